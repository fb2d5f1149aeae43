/**
 * Finds out quickly whether a container engine is reachable, without letting testcontainers
 * search (which can take a long time to give up). Checked: DOCKER_HOST, then the usual Docker
 * and Podman sockets; with the docker client installed, `docker info` confirms (5 s at most).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

export interface ContainerEngine {
  readonly available: boolean
  /** One line: what was found, or why the tier skips. */
  readonly reason: string
}

function sockets(env: NodeJS.ProcessEnv): string[] {
  const runtime = env.XDG_RUNTIME_DIR
  return [
    '/var/run/docker.sock',
    join(homedir(), '.docker', 'run', 'docker.sock'),
    join(homedir(), '.docker', 'desktop', 'docker.sock'),
    ...(runtime ? [join(runtime, 'docker.sock'), join(runtime, 'podman', 'podman.sock')] : []),
    '/run/podman/podman.sock',
  ]
}

export function detectContainerEngine(env: NodeJS.ProcessEnv = process.env): ContainerEngine {
  const socket = sockets(env).find((s) => existsSync(s))
  if (!env.DOCKER_HOST && !socket) {
    return {
      available: false,
      reason: `no container engine here (DOCKER_HOST unset, no Docker/Podman socket in ${sockets(env).join(', ')})`,
    }
  }
  const where = env.DOCKER_HOST ?? `unix://${socket}`
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: 5000,
    env: { ...env, DOCKER_HOST: where },
  })
  // No docker client: trust the socket and let testcontainers talk to it.
  if (info.error && (info.error as NodeJS.ErrnoException).code === 'ENOENT') {
    return { available: true, reason: `container engine at ${where}` }
  }
  if (info.status !== 0) {
    const why = (info.stderr || info.error?.message || 'no answer').trim().split('\n')[0]
    return { available: false, reason: `container engine at ${where} does not answer: ${why}` }
  }
  return { available: true, reason: `container engine ${info.stdout.trim()} at ${where}` }
}
