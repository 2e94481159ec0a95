export { subscriptionWorkflow } from './subscription';
