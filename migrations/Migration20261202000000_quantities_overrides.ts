import { Migration } from '@mikro-orm/migrations';

/**
 * Seats and contract prices.
 *
 * - subscriptions.quantity: the number of seats (licences, units) the recurring fee is multiplied
 *   by; every subscription from before this migration had one.
 * - subscriptions.overrides: a customer's negotiated prices (fee per seat, minimum, charge
 *   properties) used instead of the plan's; null: the plan's prices. Mirrored from the workflow,
 *   which carries them.
 * - plans.fee_tiers: a per-seat fee priced on the quantity in volume or graduated tiers
 *   ({mode, tiers: [{up_to, unit_amount, flat_amount}]}); null: amount x quantity.
 */
export class Migration20261202000000_quantities_overrides extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table subscriptions add column quantity integer not null default 1 check (quantity >= 1);
alter table subscriptions add column overrides jsonb;
alter table plans add column fee_tiers jsonb;
`);
  }
}
