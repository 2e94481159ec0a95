import { currencyMismatch, dateInPast, planUnchanged } from '../../../domain/plan-change';

/**
 * The refusals of a plan change, shared by the workflow's validator and the API's preview: the same
 * case gets the same code and message from both.
 */
describe('plan change refusals', () => {
  const pro = { id: 'plan_pro2', code: 'pro', version: 2, currency: 'USD' };

  it('a plan in another currency than the subscription is refused as currency_mismatch', () => {
    expect(currencyMismatch({ ...pro, currency: 'EUR' }, 'USD')).toEqual({ code: 'currency_mismatch', message: 'plan pro is billed in EUR, but this subscription is in USD' });
    expect(currencyMismatch(pro, 'USD')).toBeNull();
  });

  it('the version the subscription is already on is refused as plan_unchanged; another version of the same plan is not', () => {
    expect(planUnchanged('sub_1', pro, 'plan_pro2')).toEqual({ code: 'plan_unchanged', message: 'subscription sub_1 is already on plan pro version 2' });
    expect(planUnchanged('sub_1', pro, 'plan_pro1')).toBeNull();
  });

  it('an instant not after now is refused as date_in_past, now itself included', () => {
    const now = new Date('2027-03-01T12:00:00.000Z');
    expect(dateInPast('2027-03-01T12:00:00Z', now, now)).toEqual({ code: 'date_in_past', message: '2027-03-01T12:00:00Z is not in the future (it is now 2027-03-01T12:00:00.000Z)' });
    expect(dateInPast('2027-02-28T00:00:00Z', new Date('2027-02-28T00:00:00Z'), now)?.code).toBe('date_in_past');
    expect(dateInPast('2027-03-01T12:00:00.001Z', new Date('2027-03-01T12:00:00.001Z'), now)).toBeNull();
  });
});
