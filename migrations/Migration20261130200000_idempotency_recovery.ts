import { Migration } from '@mikro-orm/migrations';

/**
 * Idempotency keys as Stripe keeps them: an attempt holds its key for a lease (locked_until, renewed
 * while the attempt is alive) under a token that fences every later write, so a process that died
 * mid-request frees its key when the lease runs out, and an attempt that outlived its lease cannot
 * overwrite the one that took over. Each atomic phase a request commits records its recovery point
 * and the data a retry needs to resume after it (recovery_data, by phase), in the phase's own
 * transaction; 'finished' means the response is stored.
 */
export class Migration20261130200000_idempotency_recovery extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table idempotency_keys add column recovery_point text not null default 'started';
alter table idempotency_keys add column recovery_data jsonb;
alter table idempotency_keys add column lease_token uuid;
alter table idempotency_keys add column locked_until timestamptz;
update idempotency_keys set recovery_point = 'finished' where status_code is not null;
alter table idempotency_keys add constraint idempotency_keys_finished_check
  check ((status_code is not null) = (recovery_point = 'finished'));
alter table idempotency_keys add constraint idempotency_keys_lease_check
  check ((lease_token is null) = (locked_until is null));
`);
  }
}
