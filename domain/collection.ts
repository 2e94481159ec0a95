/** Where the collection of one invoice stands, as its workflow reports it. */
export interface CollectionState {
  invoiceId: string;
  /** error: Stripe refused a request as such (lastOutcome says why); a new card or a payment resumes it. */
  /** draft: waiting for the invoice's grace period to end (or a finalisation) before collecting; void: voided, nothing to collect. */
  status: 'draft' | 'collecting' | 'retrying' | 'awaiting_customer' | 'processing' | 'failed' | 'paid' | 'manual' | 'error' | 'void';
  attempts: number;
  lastOutcome: string | null;
  firstFailureAt: string | null;
  nextRetryAt: string | null;
}
