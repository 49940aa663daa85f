import type { AuditAction } from './audit';
import type { Change } from './context';
import type { DmEvent } from './notifications';
import { isPipelineId } from './pipelines';

/** One step in the life of a request or grant, as every change ends. */
export interface Step {
  actor: string;
  action: AuditAction;
  requestId: string;
  grantId?: string | null;
  details?: Record<string, unknown>;
  /** Redraw the approver message of this request (the request that created the grant). */
  redraw?: string;
  /** Tell the requester, once per key (a pipeline learns through the API instead). */
  dm?: { key: string; userId: string; event: DmEvent; requestId?: string; grantId?: string | null };
}

/**
 * Records a step: its audit event, the redraw of the approver message it changes (keyed by the
 * event, so every change redraws once) and the requester's DM when one is due.
 */
export function recordStep(c: Change, step: Step): void {
  c.audit({
    actor: step.actor,
    action: step.action,
    requestId: step.requestId,
    grantId: step.grantId,
    details: step.details,
  });
  const { redraw } = step;
  if (redraw) {
    c.notifyForEvent((seq) => `approver_message:${redraw}:${seq}`, {
      topic: 'approver_message',
      requestId: redraw,
    });
  }
  if (step.dm && !isPipelineId(step.dm.userId)) {
    const { key, userId, event: dmEvent, grantId } = step.dm;
    c.notify(key, {
      topic: 'requester_dm',
      userId,
      event: dmEvent,
      requestId: step.dm.requestId ?? step.requestId,
      ...(grantId ? { grantId } : {}),
    });
  }
}
