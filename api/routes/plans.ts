import { Router } from 'express';
import { forkEm } from '../../db/orm';
import type { PlanWithCharges } from '../../db/plan-store';
import { createPlan, currentPlan, listPlans, listPlanVersions, prepareVersion } from '../../services/plans';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { listUrl, pageOf } from '../lists';
import { CreatePlanBody, CreatePlanVersionBody, ListPlansQuery, ListPlanVersionsQuery } from '../schemas/plans';
import { listJson, planJson } from '../serializers';
import { parse } from '../validation';
import { parseProperties } from '../charge-properties';

type PlanJson = ReturnType<typeof planJson>;

const planOut = (p: PlanWithCharges): PlanJson => planJson(p.plan, p.charges);


export function plansRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin'), async (req, res) => {
    const { code, ...fields } = parse(CreatePlanBody, req.body);
    // The check is part of the phase: a retry after the plan was stored skips it and gets the plan.
    const created = await atomicPhase<PlanJson>(req, 'plan_created', (record) => createPlan(em(), code, fields, parseProperties, (tx, plan) => record(tx, planOut(plan))));
    res.status(201).json(created);
  });

  /** Every version of every plan, newest first. */
  router.get('/', async (req, res) => {
    const query = parse(ListPlansQuery, req.query);
    res.json(listJson(listUrl(req), await listPlans(em(), { code: query.code }, pageOf(query)), planOut));
  });

  router.post('/:code/versions', allow('admin'), async (req, res) => {
    const body = parse(CreatePlanVersionBody, req.body);
    const version = await prepareVersion(em(), String(req.params.code), body, parseProperties);
    const created = await atomicPhase<PlanJson>(req, 'plan_version_created', (record) => version.store((tx, plan) => record(tx, planOut(plan))));
    res.status(201).json(created);
  });

  router.get('/:code', async (req, res) => {
    res.json(planOut(await currentPlan(em(), String(req.params.code))));
  });

  /** Oldest first. */
  router.get('/:code/versions', async (req, res) => {
    const query = parse(ListPlanVersionsQuery, req.query);
    res.json(listJson(listUrl(req), await listPlanVersions(em(), String(req.params.code), pageOf(query)), planOut));
  });

  return router;
}
