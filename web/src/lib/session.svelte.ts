// The signed-in session: the bearer token (admin token or a login JWT) kept in
// localStorage, and who it belongs to. One shared reactive object for every page.
const KEY = 'sluice.token';

export interface Me {
  id: string;
  username: string;
  displayName: string | null;
  role: 'ADMIN' | 'DEVELOPER' | 'VIEWER';
}

function readStored(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the session lasts for this page only
  }
}

class Session {
  token = $state<string | null>(readStored());
  me = $state<Me | null>(null);
  /** why the last session ended, shown on the sign-in page */
  notice = $state<string | null>(null);

  signIn(token: string, me: Me): void {
    this.token = token;
    this.me = me;
    this.notice = null;
    try {
      localStorage.setItem(KEY, token);
    } catch {
      /* kept in memory only */
    }
  }

  signOut(notice: string | null = null): void {
    this.token = null;
    this.me = null;
    this.notice = notice;
    try {
      localStorage.removeItem(KEY);
    } catch {
      /* nothing stored */
    }
  }

  /** viewers only read; the server enforces it, this only hides what would be refused */
  get canEdit(): boolean {
    return this.me !== null && this.me.role !== 'VIEWER';
  }

  get isAdmin(): boolean {
    return this.me?.role === 'ADMIN';
  }
}

export const session = new Session();
