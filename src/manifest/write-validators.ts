/**
 * Run by `npm run build` after tsc (`node dist/manifest/write-validators.js`): writes the manifest validators as
 * code beside the built schema module, which loads them instead of compiling the schema on every run (schema.ts).
 */
import {writeFileSync} from 'node:fs'

import {manifestValidatorsSource} from './schema.js'

writeFileSync(new URL('manifest-validators.cjs', import.meta.url), manifestValidatorsSource())
