export { subscriptionWorkflow } from './subscription';
export { invoiceCollectionWorkflow } from './invoice-collection';
export { planMigrationWorkflow } from './plan-migration';
export { revenueRecognitionWorkflow } from './revenue-recognition';
export { usagePartitionsWorkflow } from './usage-partitions';
export { walletMaintenanceWorkflow } from './wallet-maintenance';
export { webhookDeliveryWorkflow } from './webhook-delivery';
