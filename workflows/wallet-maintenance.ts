import { proxyActivities } from '@temporalio/workflow';
import type { WalletActivities } from '../activities/wallets';
import type { WalletMaintenanceInput, WalletMaintenanceResult } from './messages';

const wallets = proxyActivities<WalletActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/**
 * The daily wallet run (the Schedule `wallet-maintenance` starts it): credit whose expiry has come is
 * forfeited, and every wallet purchase is invoiced and its invoice collected. Both activities are
 * idempotent, so a re-run or an overlapping run changes nothing twice.
 */
export async function walletMaintenanceWorkflow(input: WalletMaintenanceInput = {}): Promise<WalletMaintenanceResult> {
  // Workflow time: deterministic on replay; never later than now.
  const now = Date.now();
  const at = input.at && Date.parse(input.at) < now ? input.at : new Date(now).toISOString();
  const expired = await wallets.expireWallets({ at });
  const collecting = await wallets.collectWalletPurchases();
  return { at, expired, collecting };
}
