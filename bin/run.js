#!/usr/bin/env node
import {configureColour} from '../dist/cli/colour-env.js'

configureColour(process.argv.slice(2), process.env)
const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
