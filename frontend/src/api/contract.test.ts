// openapi.d.ts is what openapi-typescript generates now from the committed contract (contract/openapi.json).
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const frontend = fileURLToPath(new URL('../..', import.meta.url))
const generator = fileURLToPath(new URL('../../node_modules/.bin/openapi-typescript', import.meta.url))

function checkGeneratedTypes(): string | null {
  try {
    execFileSync(generator, ['../contract/openapi.json', '--output', 'src/api/openapi.d.ts', '--check'],
      { cwd: frontend, stdio: 'pipe', encoding: 'utf8' })
    return null
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    return `${stdout ?? ''}${stderr ?? ''}`.trim() || String(error)
  }
}

it('src/api/openapi.d.ts is generated from contract/openapi.json (else run `make contract`)', () => {
  expect(checkGeneratedTypes(), 'src/api/openapi.d.ts is stale: run `make contract` and commit it').toBeNull()
}, 60_000)
