/** Every request body and query the API validates, by resource. */
export * from './accounting';
export * from './add-ons';
export * from './coupons';
export * from './customers';
export * from './emails';
export * from './fields';
export * from './invoices';
export * from './ledger';
export * from './ledger-reports';
export * from './metrics';
export * from './pagination';
export * from './plans';
export * from './subscriptions';
export * from './tax-rates';
export * from './reports';
export * from './wallets';
