import {
  DescribePermissionSetCommand,
  ListPermissionSetsCommand,
  type SSOAdminClient,
} from '@aws-sdk/client-sso-admin';
import { awsCall } from './aws-call';
import { PERMISSION_SET_ARN } from './schema';

const PAGE_SIZE = 100;

/**
 * Finds permission sets by name. AWS lists permission sets by ARN only, so each one is described
 * once for its name; a name never changes, so that answer is kept for the provider's lifetime. A
 * name not yet known lists the instance again (a permission set created since), and an ARN AWS
 * no longer knows is forgotten (a permission set deleted and created again under the same name).
 */
export class PermissionSetDirectory {
  private readonly nameByArn = new Map<string, string>();
  private arnByName = new Map<string, string>();

  constructor(
    private readonly client: SSOAdminClient,
    private readonly instanceArn: string,
  ) {}

  /** `ref` when it is an ARN already, else the ARN of the permission set named `ref`. */
  async arnOf(ref: string, signal: AbortSignal): Promise<string> {
    if (PERMISSION_SET_ARN.test(ref)) return ref;
    const known = this.arnByName.get(ref);
    if (known) return known;
    await this.refresh(signal);
    const found = this.arnByName.get(ref);
    if (!found) {
      throw new Error(
        `no permission set named "${ref}" in ${this.instanceArn} (names are case-sensitive)`,
      );
    }
    return found;
  }

  forget(arn: string): void {
    this.nameByArn.delete(arn);
    this.reindex();
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    const listed: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await awsCall(signal, 'ListPermissionSets', (abortSignal) =>
        this.client.send(
          new ListPermissionSetsCommand({
            InstanceArn: this.instanceArn,
            MaxResults: PAGE_SIZE,
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
      );
      listed.push(...(page.PermissionSets ?? []));
      nextToken = page.NextToken;
    } while (nextToken);

    for (const arn of listed) {
      if (this.nameByArn.has(arn)) continue;
      const { PermissionSet } = await awsCall(signal, 'DescribePermissionSet', (abortSignal) =>
        this.client.send(
          new DescribePermissionSetCommand({
            InstanceArn: this.instanceArn,
            PermissionSetArn: arn,
          }),
          { abortSignal },
        ),
      );
      if (PermissionSet?.Name) this.nameByArn.set(arn, PermissionSet.Name);
    }
    const current = new Set(listed);
    for (const arn of this.nameByArn.keys()) if (!current.has(arn)) this.nameByArn.delete(arn);
    this.reindex();
  }

  private reindex(): void {
    this.arnByName = new Map([...this.nameByArn].map(([arn, name]) => [name, arn]));
  }
}
