// Names of groups, versions and resource groups become URL path segments, Envoy cluster
// names and Kubernetes object names, so they must be DNS-1123 labels.
import { badInput } from '../../platform/errors.ts';

const DNS_1123_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const MAX_NAME_LENGTH = 63;

export function assertDnsLabel(value: string, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw badInput(`${field} is required`, { field });
  if (value.length > MAX_NAME_LENGTH) {
    throw badInput(`${field} must be at most ${MAX_NAME_LENGTH} characters (got ${value.length})`, { field });
  }
  if (!DNS_1123_LABEL.test(value)) {
    throw badInput(
      `${field} "${value}" is not a DNS-1123 label: use lower-case letters, digits and "-", starting and ending with a letter or digit`,
      { field },
    );
  }
  return value;
}

export function assertText(value: string | null | undefined, field: string, max: number): string {
  const text = value ?? '';
  if (text.length > max) throw badInput(`${field} must be at most ${max} characters`, { field });
  return text;
}
