// Change notifications, published after a transaction commits. Payloads carry ids only:
// subscribers re-read the row, so a notification can never carry a stale copy.
import { topics, type PubSub } from '../../platform/pubsub/port.ts';

export interface ChangeNotice {
  kind: 'group' | 'version' | 'instance' | 'event' | 'dataPlane';
  id: string;
  groupId?: string;
  versionId?: string;
  deleted?: boolean;
  /** a data-plane change that should reach the proxies without the usual quiet time (an endpoint gone) */
  urgent?: boolean;
}

export class ChangeFeed {
  constructor(private readonly pubsub: PubSub) {}

  async group(groupId: string, deleted = false): Promise<void> {
    const notice: ChangeNotice = { kind: 'group', id: groupId, groupId, deleted };
    await Promise.all([this.pubsub.publish(topics.group(groupId), notice), this.pubsub.publish(topics.groups, notice)]);
  }

  async version(groupId: string, versionId: string, deleted = false): Promise<void> {
    const notice: ChangeNotice = { kind: 'version', id: versionId, groupId, versionId, deleted };
    await Promise.all([
      this.pubsub.publish(topics.version(versionId), notice),
      this.pubsub.publish(topics.group(groupId), notice),
      this.pubsub.publish(topics.groups, notice),
    ]);
  }

  async instance(groupId: string, versionId: string, instanceId: string, deleted = false): Promise<void> {
    const notice: ChangeNotice = { kind: 'instance', id: instanceId, groupId, versionId, deleted };
    await Promise.all([
      this.pubsub.publish(topics.instances(versionId), notice),
      this.pubsub.publish(topics.group(groupId), notice),
    ]);
  }

  async event(eventId: string, groupId: string | null, versionId: string | null): Promise<void> {
    const notice: ChangeNotice = { kind: 'event', id: eventId, ...(groupId ? { groupId } : {}), ...(versionId ? { versionId } : {}) };
    const publishes = [this.pubsub.publish(topics.events, notice)];
    if (groupId) publishes.push(this.pubsub.publish(topics.group(groupId), notice));
    await Promise.all(publishes);
  }

  /**
   * Something the data plane sees changed: routes, weights, endpoints, auth or limits.
   * `urgent`: a replica the proxies still route to is gone (until they hear it, its
   * version's share fails), so the rebuild does not wait for the burst to end.
   */
  async dataPlane(reason: string, options: { urgent?: boolean } = {}): Promise<void> {
    const notice: ChangeNotice = { kind: 'dataPlane', id: reason, ...(options.urgent ? { urgent: true } : {}) };
    await this.pubsub.publish(topics.dataPlane, notice);
  }
}
