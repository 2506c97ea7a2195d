// Lets the TypeScript checker accept .svelte imports from .ts files.
declare module '*.svelte' {
  import type { Component } from 'svelte';
  const component: Component<Record<string, unknown>>;
  export default component;
}
