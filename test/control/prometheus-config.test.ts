// `npm run prometheus:config`: the scrape configuration is valid for Prometheus itself
// (promtool, from Debian's prometheus package) in both orchestrator modes, and the PromQL
// the reader sends parses (checked by a real Prometheus in
// test/integration/operations-traffic.test.ts for the local edge's names).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { prometheusConfig, prometheusConfigYaml } from '../../control/monitoring/prometheus-config.ts';
import { promql } from '../../control/monitoring/prometheus.ts';
import { METRIC_NAMES } from '../../control/monitoring/reader.ts';

const PROMTOOL = process.env.SLUICE_PROMTOOL_BIN ?? '/usr/bin/promtool';

it.each(['local', 'kubernetes'] as const)('prints a configuration promtool accepts (%s)', (orchestrator) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-promcfg-'));
  try {
    const file = join(dir, 'prometheus.yml');
    writeFileSync(file, prometheusConfigYaml({
      intervalSeconds: 15, edges: ['127.0.0.1:8080'], orchestrator, namespace: 'models',
      replicas: [{ group: 'wine', version: 'v1', instance: 'wine-v1-0', address: '127.0.0.1:41000' }],
      // local: Envoy admin listeners and DCGM exporters as static targets; Kubernetes: the
      // exporters by pod discovery
      ...(orchestrator === 'local' ? { envoyAdmins: ['127.0.0.1:9901'], dcgmExporters: ['127.0.0.1:9400'] } : {}),
    }));
    const res = spawnSync(PROMTOOL, ['check', 'config', file], { encoding: 'utf8' });
    expect(res.error).toBeUndefined();
    const out = `${res.stdout}${res.stderr}`;
    // Debian builds Prometheus without Kubernetes discovery: there promtool can only say that
    // (anything else wrong in the file would still fail here); upstream builds accept it
    if (orchestrator === 'kubernetes' && /field kubernetes_sd_configs not found/.test(out)) return;
    expect(out).toMatch(/SUCCESS/);
    expect(res.status).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('labels replica targets the way the PromQL selects them', () => {
  const cfg = prometheusConfig({ intervalSeconds: 5, edges: ['e:1'], orchestrator: 'local', replicas: [{ group: 'g', version: 'v', instance: 'g-v-0', address: 'h:2' }] });
  expect(JSON.stringify(cfg)).toContain('"sluice_group":"g","sluice_version":"v","sluice_instance":"g-v-0","sluice_role":"replica"');
  const target = { groupId: 'id', groupName: 'g', versions: [{ id: 'vid', name: 'v' }], versionId: 'vid', instance: null };
  for (const name of METRIC_NAMES) {
    for (const plane of ['edge', 'envoy'] as const) {
      const q = promql(name, target, plane, '60s');
      expect(q).not.toMatch(/undefined|null/);
      expect(q.split('(').length).toBe(q.split(')').length);
    }
  }
  expect(promql('QPS', { ...target, versionId: null }, 'envoy', '60s')).toContain('envoy_cluster_name=~"sluice/g/.+"');
});
