/** Why a customer leaves, as Stripe's portal asks it: the reasons the portal offers and the API takes. */
export const CANCELLATION_REASONS = ['too_expensive', 'missing_features', 'switched_service', 'unused', 'other'] as const;

export type CancellationReason = (typeof CANCELLATION_REASONS)[number];

export interface CancellationDetails {
  reason: CancellationReason;
  comment: string | null;
}

/** How the portal words each reason. */
export const CANCELLATION_REASON_LABELS: Record<CancellationReason, string> = {
  too_expensive: 'It is too expensive',
  missing_features: 'Some features are missing',
  switched_service: 'I switched to another service',
  unused: 'I do not use it enough',
  other: 'Another reason',
};

/** Longest comment kept with a cancellation. */
export const CANCELLATION_COMMENT_MAX = 1000;
