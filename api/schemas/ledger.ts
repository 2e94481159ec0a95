import { idField } from './fields';
import { listQuery } from './pagination';

export const ListLedgerTransactionsQuery = listQuery({ invoice_id: idField.optional(), customer_id: idField.optional() });
