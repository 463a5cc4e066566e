// Part of `npm run build`, after tsc: writes the manifest validators as code (Ajv standalone) beside the built
// src/manifest/schema.ts, which loads them instead of compiling the schema on every run.
import {writeFileSync} from 'node:fs'

const {manifestValidatorsSource} = await import('../dist/manifest/schema.js')
writeFileSync(new URL('../dist/manifest/manifest-validators.cjs', import.meta.url), manifestValidatorsSource())
