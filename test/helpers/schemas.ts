import {readFileSync} from 'node:fs'
import {Ajv2020} from 'ajv/dist/2020.js'


/** Compiles one of the project's JSON Schemas (schemas/NAME.schema.json). */
export function compileSchema(name: string) {
  const schema = JSON.parse(readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), 'utf8'))
  const ajv = new Ajv2020({allErrors: true, strict: false})
  return ajv.compile(schema)
}
