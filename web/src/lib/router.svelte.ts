// A small history-API router: the control plane answers every unknown path with
// index.html, so links like /groups/<id> survive a reload.
export const GROUP_TABS = ['overview', 'monitoring', 'debug', 'logs', 'events', 'instances', 'inference', 'quality'] as const;
export type GroupTab = (typeof GROUP_TABS)[number];
const isTab = (s: string | undefined): s is GroupTab => (GROUP_TABS as readonly string[]).includes(s ?? '');

/** The dashboard's addresses (CONTRACT.md, "Dashboard addresses"): groups by name, one address per tab. */
export type Route =
  | { page: 'groups' }
  | { page: 'new' }
  | { page: 'group'; name: string; tab: GroupTab }
  | { page: 'resource-groups' }
  | { page: 'audit' }
  | { page: 'not-found'; path: string };

export function parse(path: string): Route {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'groups')) return { page: 'groups' };
  if (parts.length === 1 && parts[0] === 'new') return { page: 'new' };
  if (parts[0] === 'groups' && parts[1] && parts.length === 2) return { page: 'group', name: parts[1], tab: 'overview' };
  if (parts[0] === 'groups' && parts[1] && parts.length === 3 && isTab(parts[2])) return { page: 'group', name: parts[1], tab: parts[2] };
  if (parts.length === 1 && parts[0] === 'resource-groups') return { page: 'resource-groups' };
  if (parts.length === 1 && parts[0] === 'audit') return { page: 'audit' };
  return { page: 'not-found', path };
}

class Router {
  path = $state(location.pathname);
  route = $derived(parse(this.path));

  constructor() {
    addEventListener('popstate', () => {
      this.path = location.pathname;
    });
  }

  go(path: string): void {
    if (path === this.path) return;
    history.pushState(null, '', path);
    this.path = path;
    scrollTo(0, 0);
  }
}

export const router = new Router();

/** The address of a group's tab (the overview has the short form). */
export const groupPath = (name: string, tab: GroupTab = 'overview'): string =>
  `/groups/${encodeURIComponent(name)}${tab === 'overview' ? '' : `/${tab}`}`;

/** use:link on an <a href="/..."> keeps navigation in the page (ctrl/middle click still open a tab). */
export function link(node: HTMLAnchorElement): { destroy(): void } {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    router.go(node.getAttribute('href') ?? '/');
  };
  node.addEventListener('click', onClick);
  return { destroy: () => node.removeEventListener('click', onClick) };
}
