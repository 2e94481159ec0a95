/** Where the collection of one invoice stands, as its workflow reports it. */
export interface CollectionState {
  invoiceId: string;
  /** error: Stripe refused a request as such (lastOutcome says why); a new card or a payment resumes it. */
  status: 'collecting' | 'retrying' | 'awaiting_customer' | 'processing' | 'failed' | 'paid' | 'manual' | 'error';
  attempts: number;
  lastOutcome: string | null;
  firstFailureAt: string | null;
  nextRetryAt: string | null;
}
