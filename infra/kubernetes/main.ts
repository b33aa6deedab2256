/**
 * The Kubernetes API test server as a process: `tsx infra/kubernetes/main.ts [--port N] [--kubeconfig FILE]`. It
 * prints one JSON line (`{"url": ..., "kubeconfig": ...}`) once it listens, writes a kubeconfig for it when asked,
 * and runs until SIGINT, SIGTERM or the end of its stdin. For benchmarks (server and worker on separate event loops)
 * and for trying the executor by hand.
 */
import { writeFile } from 'node:fs/promises';

import { startKubernetesTestServer } from './server';

async function main(argv: readonly string[]): Promise<number> {
  let port = 0;
  let kubeconfigPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--port' && /^\d+$/.test(argv[i + 1] ?? '')) port = Number(argv[++i]);
    else if (arg === '--kubeconfig' && argv[i + 1] !== undefined) kubeconfigPath = argv[++i];
    else {
      process.stderr.write(
        `unexpected argument ${JSON.stringify(arg)}\nusage: main.ts [--port N] [--kubeconfig FILE]\n`,
      );
      return 2;
    }
  }
  const server = await startKubernetesTestServer({ port });
  if (kubeconfigPath !== undefined) await writeFile(kubeconfigPath, server.kubeconfig());
  process.stdout.write(`${JSON.stringify({ url: server.url, kubeconfig: kubeconfigPath ?? null })}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    process.stdin.once('end', resolve);
    process.stdin.resume();
  });
  await server.close();
  return 0;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
