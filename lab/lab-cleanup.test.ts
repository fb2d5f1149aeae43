import { execFile } from 'node:child_process'
import { Resolver } from 'node:dns/promises'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { orphanInChild, processesMentioning } from '../test/support/orphan-process.js'
import { until } from '../test/support/until.js'
import { startLab } from './index.js'

function nftTables(): Promise<string> {
  return new Promise((resolve) => execFile('nft', ['list', 'tables'], (_e, stdout) => resolve(stdout ?? '')))
}

function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
}

const here = fileURLToPath(new URL('.', import.meta.url))

/** A separate Node process that starts a lab and then dies without `close()`. */
function labInChild(how: 'exit' | 'sigkill') {
  const body = `
    const { startLab } = await import(${JSON.stringify(`${here}index.ts`)})
    const lab = await startLab()
    await lab.addService({ name: 'orphan', kind: 'clusterIP', replicas: 2 })
    const dir = lab.dir
  `
  return orphanInChild(body, how)
}

describe('the lab cleans up after itself', () => {
  it('close() leaves no process, firewall table, temp dir or listener; a second close() is a no-op', async () => {
    const lab = await startLab()
    const dir = (lab as unknown as { dir: string }).dir
    const headless = await lab.addService({ name: 'web', kind: 'headless', replicas: 2 })
    const vip = await lab.addService({ name: 'api', kind: 'clusterIP', replicas: 1 })
    const blackholing = lab.blackholeSupport.supported
    if (blackholing) await headless.pods[0]!.blackhole()
    const table = `hlb_lab_${process.pid}_`
    expect(existsSync(dir)).toBe(true)
    expect(await processesMentioning(`${dir}/named.conf`)).toHaveLength(1)
    if (blackholing) expect(await nftTables()).toContain(table)
    const pod = headless.pods[1]!

    await lab.close()

    expect(existsSync(dir)).toBe(false)
    expect(await processesMentioning(`${dir}/named.conf`)).toEqual([])
    if (blackholing) expect(await nftTables()).not.toContain(table)
    expect(await refused(pod.ip, pod.port)).toBe(true)
    expect(await refused(vip.clusterIP!, vip.port)).toBe(true)
    const dns = new Resolver({ timeout: 300, tries: 1 })
    dns.setServers([lab.dnsServer])
    await expect(dns.resolve4('web.default.svc.cluster.local')).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNREFUSED|ETIMEOUT/),
    })
    await lab.close()
    await expect(lab.addService({ name: 'late', kind: 'headless' })).rejects.toThrow(/closed/)
  })

  it('await using closes the lab', async () => {
    let dir = ''
    {
      await using lab = await startLab()
      dir = (lab as unknown as { dir: string }).dir
      expect(existsSync(dir)).toBe(true)
    }
    expect(existsSync(dir)).toBe(false)
  })

  it('a process that exits without close() leaves no named process and no temp dir', async () => {
    const { child, started } = labInChild('exit')
    const { dir } = await started
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code).toBe(3)
    expect(existsSync(dir)).toBe(false)
    await until(
      `no process mentioning ${dir}/named.conf`,
      async () => (await processesMentioning(`${dir}/named.conf`)).length === 0,
      5000,
    )
  })

  it('a SIGKILLed process takes named with it, and the next lab sweeps its temp dir', async () => {
    const { child, started } = labInChild('sigkill')
    const { dir } = await started
    expect(await processesMentioning(`${dir}/named.conf`)).toHaveLength(1)
    child.kill('SIGKILL')
    await once(child, 'exit')
    // setpriv --pdeathsig: the kernel kills named when its parent dies.
    await until(
      `no process mentioning ${dir}/named.conf`,
      async () => (await processesMentioning(`${dir}/named.conf`)).length === 0,
      5000,
    )
    expect(existsSync(dir)).toBe(true)
    const lab = await startLab()
    await lab.close()
    expect(existsSync(dir)).toBe(false)
  })
})
