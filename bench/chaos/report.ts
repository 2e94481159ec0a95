import type Decimal from 'decimal.js';
import { FAULT_KINDS, FAULT_LABELS } from './faults';
import type { ChaosFigures } from './harness';
import type { CustomerKind } from './workload';

const CUSTOMER_LABELS: Record<CustomerKind, string> = {
  card: 'card that pays',
  card_and_transfer: 'card that pays, and a bank transfer racing it',
  declining: 'card declined on every charge',
  '3ds_authenticates': '3-D Secure, completed later',
  '3ds_manual_payment': '3-D Secure, paid by hand, then completed',
  '3ds_new_card': '3-D Secure, then a new card',
  '3ds_abandoned': '3-D Secure, never completed',
};

/** The figures of a chaos run as a table: figure, value, and for the checks the value they must have. */
export function formatReport(f: ChaosFigures): string {
  const rows: Array<[string, string, string]> = [];
  const row = (figure: string, value: string | number, expected = ''): void => void rows.push([figure, String(value), expected]);
  const section = (title: string): void => void rows.push([title, '', '']);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const money = (d: Decimal) => d.toFixed();
  const c = f.checks;

  section('run');
  row('renewals (invoices issued)', `${c.invoicesIssued} of ${f.renewals}`);
  row('subscriptions / customers', `${f.subscriptions} / ${f.customers}`);
  for (const [kind, n] of Object.entries(f.workload.customers)) row(`  customers: ${CUSTOMER_LABELS[kind as CustomerKind]}`, n);
  row('seed', f.seed);
  row('duration', s(f.durations.totalMs));
  row('  start-up (Postgres, Temporal, localstripe, worker, API)', s(f.durations.startUpMs));
  row('  plans, customers and cards', s(f.durations.setUpMs));
  row('  fault window', s(f.durations.faultWindowMs));
  row('  wait until quiet', s(f.durations.quietMs));
  row('  checks', s(f.durations.checksMs));
  row('renewals/s (first subscription to quiet)', f.renewalsPerSecond.toFixed(2));
  for (const [status, n] of Object.entries(c.invoices)) row(`  invoices ${status}`, n);

  section('faults injected');
  for (const kind of FAULT_KINDS) row(`  ${FAULT_LABELS[kind]}`, f.faults[kind]);
  row('  total', FAULT_KINDS.reduce((sum, k) => sum + f.faults[k], 0));
  row('  pg_terminate_backend rounds that found no busy backend', f.terminateMisses);
  row('worker processes started (1 + restarts)', f.workerStarts);
  row('worker / API exits while starting (restarted)', `${f.startFailures.worker} / ${f.startFailures.api}`);
  row('webhooks received / deliveries / not acknowledged, retried / given up', `${f.relay.received} / ${f.relay.deliveries} / ${f.relay.unacknowledged} / ${f.relay.gaveUp}`);
  row('API requests sent again (5xx, no answer)', f.apiRetries);

  section('customers');
  row('3-D Secure completed by the customer', f.workload.authenticated);
  row('invoices paid by hand while 3-D Secure waited', f.workload.manualPayments);
  row('  of which the customer had just completed 3-D Secure (paid twice)', f.workload.paidTwice);
  row('new cards attached while 3-D Secure waited', f.workload.newCards);
  row('3-D Secure completed after the invoice was paid otherwise', f.workload.lateAuthentications);
  row('  of which Stripe charged (the intent not cancelled yet)', f.workload.lateAuthenticationsCharged);
  row('bank transfers racing the card charge: recorded / card first', `${f.workload.transfers.paid} / ${f.workload.transfers.cardFirst}`);
  row('manual payments refused while a card attempt ran (409), retried', f.workload.manualPaymentsDeferred);
  row('customer actions that failed', f.customerErrors.length);

  section('Stripe (emulator) and Postgres');
  row('charges kept (succeeded, not refunded)', c.chargesKept);
  row('excess payments refunded: Stripe / Postgres', `${c.chargesRefundedAsExcess} / ${c.excessRefundsInPostgres}`);
  row('PaymentIntents cancelled', c.intentsCanceled);
  row('Stripe events recorded by the API', c.stripeEventsRecorded);

  section('checks');
  row('double charges (invoices with 2+ charges kept)', c.doubleCharges, '0');
  row('invoices whose status disagrees with Stripe', c.statusDisagreements, '0');
  row('intents still able to charge a settled invoice', c.liveIntentsOnSettledInvoices, '0');
  row('ledger: debits − credits', money(c.ledgerImbalance), '0');
  row('ledger: receivables − amount due of open invoices', money(c.receivablesDifference), '0');
  row('ledger: card payments − charges kept in Stripe', money(c.cardPaymentsDifference), '0');
  row('ledger: excess_payments − excess refunds pending', money(c.excessDifference), '0');
  row('workflows stuck', c.workflowsStuck, '0');
  row('  activities past 3 attempts', c.stuck.activitiesPastAttempts, '0');
  row('  subscriptions in billing_error', c.stuck.subscriptionsInBillingError, '0');
  row("  collections in status 'error'", c.stuck.collectionsInError, '0');
  row("  card attempts still 'pending'", c.stuck.attemptsPending, '0');
  row('  open invoices nobody collects', c.stuck.openInvoicesWithoutCollection, '0');
  row('  settled invoices still being collected', c.stuck.paidInvoicesStillCollecting, '0');
  row('  refunds still pending (money owed back, not asked of Stripe again)', c.stuck.refundsPending, '0');
  row('unexpected exits of the worker / the API', `${f.unexpectedExits.worker} / ${f.unexpectedExits.api}`, '0 / 0');
  row('quiet at the end', f.quiet ? 'yes' : `no: ${f.notQuiet}`, 'yes');

  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length), ['figure', 'value', 'expected'][i].length));
  const line = (r: [string, string, string]) => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}`.trimEnd();
  const out = [line(['figure', 'value', 'expected']), `${'-'.repeat(widths[0])}  ${'-'.repeat(widths[1])}  ${'-'.repeat(widths[2])}`];
  for (const r of rows) out.push(r[1] === '' && r[2] === '' ? `${r[0]}:` : line(r));
  if (c.problems.length > 0) out.push('', 'problems found:', ...c.problems.map((p) => `  - ${p}`));
  if (f.customerErrors.length > 0) out.push('', 'customer actions that failed:', ...f.customerErrors.slice(0, 20).map((e) => `  - ${e}`));
  if (f.keptWorkDir) out.push('', `logs and data kept in ${f.keptWorkDir}`);
  return out.join('\n');
}
