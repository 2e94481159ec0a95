import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { invoicePdf } from '../../services/invoice-pdf';
import type { ApiDeps } from '../deps';

/** GET /v1/invoices/:id/pdf: the invoice as a PDF attachment, for any key. */
export function invoicePdfRouter({ orm, seller }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.get('/:id/pdf', async (req, res) => {
    const pdf = await invoicePdf(em(), String(req.params.id), seller);
    res
      .status(200)
      .type('application/pdf')
      .set('Content-Disposition', `attachment; filename="${pdf.fileName}"`)
      .set('Content-Length', String(pdf.bytes.length))
      .send(pdf.bytes);
  });

  return router;
}
