import {readFileSync} from 'node:fs'
import Ajv2020Module from 'ajv/dist/2020.js'

type AjvClass = typeof Ajv2020Module.default
// ajv is CommonJS: under NodeNext its class is the module's `default` export at run time.
const Ajv2020 = ((Ajv2020Module as unknown as {default?: AjvClass}).default ?? Ajv2020Module) as AjvClass

/** Compiles one of the project's JSON Schemas (schemas/NAME.schema.json). */
export function compileSchema(name: string) {
  const schema = JSON.parse(readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), 'utf8'))
  const ajv = new Ajv2020({allErrors: true, strict: false})
  return ajv.compile(schema)
}
