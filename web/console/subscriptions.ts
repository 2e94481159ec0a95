import { Router } from 'express';
import { html } from '../html';
import { sendConsolePage } from '../layout';
import type { ConsoleContext } from './router';

export function subscriptionPages(_context: ConsoleContext): Router {
  const router = Router();
  router.get('/subscriptions', (req, res) => sendConsolePage(req, res, { title: 'subscriptions', section: 'subscriptions', body: html`<p>Not built yet.</p>` }));
  return router;
}
