import { GetUserIdCommand, type IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { awsCall, isAwsError } from './aws-call';

/**
 * The Identity Store user whose primary email is `email`, or undefined when the store has none:
 * `GetUserId` with the unique attribute `emails.value`, one of the two paths it accepts.
 */
export async function findUserIdByEmail(
  client: IdentitystoreClient,
  identityStoreId: string,
  email: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  try {
    const { UserId } = await awsCall(signal, 'GetUserId', (abortSignal) =>
      client.send(
        new GetUserIdCommand({
          IdentityStoreId: identityStoreId,
          AlternateIdentifier: {
            UniqueAttribute: { AttributePath: 'emails.value', AttributeValue: email },
          },
        }),
        { abortSignal },
      ),
    );
    if (!UserId) throw new Error('GetUserId answered without a UserId');
    return UserId;
  } catch (err) {
    // Only a missing USER means the person is unknown. Any other missing resource (a wrong
    // identityStoreId: IDENTITY_STORE) is an error, or a revoke and its check would read "no such
    // user, so no access" while the access stays.
    if (isAwsError(err, 'ResourceNotFoundException') && err.resourceType === 'USER') {
      return undefined;
    }
    throw err;
  }
}
