import { Context, log } from '@temporalio/activity';
import type { Invoice } from '../db/entities/invoice';
import { forkEm, type Orm } from '../db/orm';
import { invoiceWalletPurchases, openPurchaseInvoices } from '../db/wallet-purchases';
import { expireWallets } from '../db/wallet-store';
import { startCollection } from '../services/invoice-collection';

/**
 * Starts the collection (`invoice-<id>`, once: a collection started or finished before is left as it
 * is) of wallet purchase invoices, through the worker's own Temporal client. An activity may start
 * workflows; doing it here adds no command to the workflow that called it, so a subscription's
 * history is the same whether a consumption started a top-up or not.
 */
async function collect(invoices: Invoice[]): Promise<number> {
  if (invoices.length === 0) return 0;
  const { client, info } = Context.current();
  for (const invoice of invoices) await startCollection(client, info.taskQueue, invoice);
  return invoices.length;
}

export function createWalletActivities({ orm }: { orm: Orm }) {
  const em = forkEm(orm);
  return {
    /** Forfeits the credit of wallets whose expiry has come by `at` (ledger: paid part to breakage). */
    async expireWallets(request: { at: string }): Promise<number> {
      return expireWallets(em(), new Date(request.at));
    },

    /**
     * Invoices wallet purchases not invoiced yet and makes sure every open purchase invoice is being
     * collected: the sweep behind the collection a consumption's automatic top-up starts at once.
     */
    async collectWalletPurchases(): Promise<number> {
      await invoiceWalletPurchases(em());
      return collect(await openPurchaseInvoices(em()));
    },
  };
}

/**
 * After an invoice of `customerId` was issued: the automatic top-ups its consumption started are
 * invoiced and their collection started at once (the daily wallet run catches any missed here).
 */
export async function collectTopUpsOf(orm: Orm, customerId: string): Promise<void> {
  const issued = await invoiceWalletPurchases(orm.em.fork(), { customerId });
  try {
    await collect(issued);
  } catch (error) {
    // The invoice that spent the credit is issued; its own collection must not wait on a top-up's.
    log.warn('wallet top-up collection not started; the daily wallet run will', { customerId, error: String(error) });
  }
}

export type WalletActivities = ReturnType<typeof createWalletActivities>;
