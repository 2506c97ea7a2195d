// The parent's control of a simulated-proxy swarm child (the xds bench): `cpu` asks for the
// swarm's own CPU so far (its share of the shared cores), `stop` closes its connections and
// ends it. Shared by the grpc-js swarm and the plain HTTP/2 one.
export function answerSwarmControl(closeAll: () => void): void {
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cpuUs: u.user + u.system });
      return;
    }
    if (m.cmd === 'stop') {
      closeAll();
      process.exit(0);
    }
  });
}
