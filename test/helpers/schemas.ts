import {readFileSync} from 'node:fs'
import {Ajv2020} from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

// ajv-formats is CommonJS: under NodeNext its function is the module's `default` at run time.
const addFormats = ((addFormatsModule as unknown as {default?: typeof addFormatsModule}).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void

/** Reads one of the project's JSON Schemas (schemas/NAME.schema.json). */
export function readSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as Record<string, unknown>
}

/** Compiles a schema strictly, with formats (date-time, …) checked, as a consumer of our output would. */
export function compileSchema(name: string) {
  const ajv = new Ajv2020({allErrors: true, strict: true, allowUnionTypes: true})
  addFormats(ajv)
  return ajv.compile(readSchema(name))
}
