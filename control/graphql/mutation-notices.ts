// After each GraphQL mutation has answered (its transaction committed), one notice on the
// `mutations` topic naming the mutation's root fields. The audit log and the resource-group
// list are live through it (types/live-lists.ts): every audited change is made by a mutation,
// and so is every change to a resource group, its nodes or the versions bound to it.
import type { ApolloServerPlugin } from '@apollo/server';
import { topics } from '../../platform/pubsub/port.ts';
import type { GraphQLContext } from './context.ts';

export interface MutationNotice {
  at: string;
  /** the root fields the mutation ran (the audit log's actions: createServiceGroup, addNode, …) */
  fields: string[];
}

export function mutationNotices(onError: (err: unknown) => void = () => undefined): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ operation, contextValue }) {
          if (operation?.operation !== 'mutation') return;
          const fields = operation.selectionSet.selections.flatMap((s) => (s.kind === 'Field' ? [s.name.value] : []));
          const notice: MutationNotice = { at: new Date().toISOString(), fields };
          await contextValue.pubsub.publish(topics.mutations, notice).catch(onError);
        },
      };
    },
  };
}

/** Only the notices `keep` accepts; unsubscribes from the source when the subscriber leaves. */
export async function* noticesWhere(source: AsyncIterableIterator<MutationNotice>, keep: (notice: MutationNotice) => boolean): AsyncGenerator<MutationNotice> {
  try {
    for await (const notice of source) if (keep(notice)) yield notice;
  } finally {
    await source.return?.();
  }
}
