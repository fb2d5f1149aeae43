import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A self-signed certificate (P-256, one day) for `names` (subjectAltName DNS entries; the first
 * is also the CN), made with the openssl CLI. No CA: a test trusts the certificate itself.
 */
export function selfSignedCertificate(names: ReadonlyArray<string>): { cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'hlb-cert-'))
  try {
    const cert = join(dir, 'cert.pem')
    const key = join(dir, 'key.pem')
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        `/CN=${names[0]}`,
        '-addext',
        `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
      ],
      { stdio: 'ignore' },
    )
    return { cert: readFileSync(cert), key: readFileSync(key) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
