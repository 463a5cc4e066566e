#!/usr/bin/env -S node --import tsx
import {configureColour} from '../src/cli/colour-env.ts'

configureColour(process.argv.slice(2), process.env)
const {execute} = await import('@oclif/core/execute')
await execute({development: true, dir: import.meta.url})
