import { subscriptionChangeEvent, trialWillEndAt } from '../../../domain/subscription-events';

describe('the event a new subscription state reports', () => {
  it('names the move: paused, resumed from a pause, past due, canceled', () => {
    expect(subscriptionChangeEvent('active', 'paused', true)).toBe('subscription.paused');
    expect(subscriptionChangeEvent('paused', 'active', true)).toBe('subscription.resumed');
    expect(subscriptionChangeEvent('active', 'past_due', true)).toBe('subscription.past_due');
    expect(subscriptionChangeEvent('past_due', 'canceled', true)).toBe('subscription.canceled');
    expect(subscriptionChangeEvent('paused', 'canceled', true)).toBe('subscription.canceled');
  });

  it('reports any other change as an update, and nothing when nothing changed', () => {
    expect(subscriptionChangeEvent('active', 'active', true)).toBe('subscription.updated');
    expect(subscriptionChangeEvent('scheduled', 'trialing', true)).toBe('subscription.updated');
    expect(subscriptionChangeEvent('past_due', 'active', true)).toBe('subscription.updated');
    expect(subscriptionChangeEvent('active', 'billing_error', true)).toBe('subscription.updated');
    expect(subscriptionChangeEvent('active', 'active', false)).toBeNull();
  });

  it('leaves a suspension and the resume after it to the events the workflow reports itself', () => {
    expect(subscriptionChangeEvent('past_due', 'suspended', true)).toBeNull();
    expect(subscriptionChangeEvent('suspended', 'active', true)).toBeNull();
    expect(subscriptionChangeEvent('suspended', 'past_due', true)).toBeNull();
  });

  it("warns of a trial's end three days before it", () => {
    expect(trialWillEndAt(new Date('2027-05-15T00:00:00Z')).toISOString()).toBe('2027-05-12T00:00:00.000Z');
  });
});
