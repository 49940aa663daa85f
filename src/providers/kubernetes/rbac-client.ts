import { setTimeout as sleep } from 'node:timers/promises';
import type {
  ConfigurationOptions,
  ObservableMiddleware,
  RbacAuthorizationV1Api,
  V1RoleBinding,
} from '@kubernetes/client-node';
import { abortReason, raceAbort } from '../abort';
import {
  callError,
  describeOperation,
  isBindingNotFound,
  throttledFor,
  type Operation,
} from './errors';
import type { BindingPlace } from './place';
import type { Sdk } from './sdk';

/** A RoleBinding or ClusterRoleBinding: the two have the same fields. */
export type Binding = V1RoleBinding;

/** Throttled calls are tried again within the call's timeout when the server asks for a short wait. */
const THROTTLED_ATTEMPTS = 3;
const MAX_RETRY_AFTER_S = 5;

/**
 * The four calls Hallpass makes on a grant's binding, each bound to the caller's signal (the
 * request is cancelled, not only abandoned) and with the API server's answers turned into
 * KubernetesApiErrors that say what to fix.
 */
export class RbacBindings {
  constructor(
    private readonly sdk: Sdk,
    private readonly api: RbacAuthorizationV1Api,
  ) {}

  async create(place: BindingPlace, body: Binding, signal: AbortSignal): Promise<void> {
    const op: Operation = { verb: 'create', place, roleRef: body.roleRef };
    await this.call(op, signal, (options) =>
      place.kind === 'RoleBinding'
        ? this.api.createNamespacedRoleBinding({ namespace: place.namespace, body }, options)
        : this.api.createClusterRoleBinding({ body }, options),
    );
  }

  /** The binding, or undefined when the API server says there is none. */
  async read(place: BindingPlace, signal: AbortSignal): Promise<Binding | undefined> {
    try {
      return await this.call({ verb: 'get', place }, signal, (options) =>
        place.kind === 'RoleBinding'
          ? this.api.readNamespacedRoleBinding(
              { name: place.name, namespace: place.namespace },
              options,
            )
          : this.api.readClusterRoleBinding({ name: place.name }, options),
      );
    } catch (err) {
      if (isBindingNotFound(err, place)) return undefined;
      throw err;
    }
  }

  /** Replaces the binding; `body.metadata.resourceVersion` makes it fail with 409 Conflict if it changed since read. */
  async replace(place: BindingPlace, body: Binding, signal: AbortSignal): Promise<void> {
    const op: Operation = { verb: 'update', place, roleRef: body.roleRef };
    await this.call(op, signal, (options) =>
      place.kind === 'RoleBinding'
        ? this.api.replaceNamespacedRoleBinding(
            { name: place.name, namespace: place.namespace, body },
            options,
          )
        : this.api.replaceClusterRoleBinding({ name: place.name, body }, options),
    );
  }

  /** Deletes the binding; true if there was one, false if the API server says it was gone. */
  async remove(place: BindingPlace, signal: AbortSignal): Promise<boolean> {
    try {
      await this.call({ verb: 'delete', place }, signal, (options) =>
        place.kind === 'RoleBinding'
          ? this.api.deleteNamespacedRoleBinding(
              { name: place.name, namespace: place.namespace },
              options,
            )
          : this.api.deleteClusterRoleBinding({ name: place.name }, options),
      );
      return true;
    } catch (err) {
      if (isBindingNotFound(err, place)) return false;
      throw err;
    }
  }

  private async call<T>(
    op: Operation,
    signal: AbortSignal,
    work: (options: ConfigurationOptions<ObservableMiddleware>) => Promise<T>,
  ): Promise<T> {
    const what = describeOperation(op);
    const options = this.abortingOn(signal);
    for (let attempt = 1; ; attempt++) {
      try {
        // raceAbort also bounds what runs before the request (an exec credential plugin).
        return await raceAbort(signal, what, () => work(options));
      } catch (err) {
        if (signal.aborted) throw new Error(`${what} ${abortReason(signal)}`);
        const failure = callError(op, err);
        const wait = throttledFor(failure);
        if (wait === undefined || wait > MAX_RETRY_AFTER_S || attempt >= THROTTLED_ATTEMPTS) {
          throw failure;
        }
        await sleep(wait * 1000, undefined, { signal }).catch(() => {
          throw new Error(`${what} ${abortReason(signal)}`);
        });
      }
    }
  }

  /** Per-call options that hand the signal to the request, so a timeout cancels it. */
  private abortingOn(signal: AbortSignal): ConfigurationOptions<ObservableMiddleware> {
    const { Observable } = this.sdk;
    return {
      middleware: [
        {
          pre: (request) => {
            request.setSignal(signal);
            return new Observable(Promise.resolve(request));
          },
          post: (response) => new Observable(Promise.resolve(response)),
        },
      ],
      middlewareMergeStrategy: 'append',
    };
  }
}
