export { subscriptionWorkflow } from './subscription';
export { invoiceCollectionWorkflow } from './invoice-collection';
