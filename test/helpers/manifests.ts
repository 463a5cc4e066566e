import {createFsFromVolume, Volume} from 'memfs'

import {loadManifests} from '../../src/manifest/load.js'
import {ProblemSink, ScopedProblems} from '../../src/manifest/problems.js'
import {RecipientCollector} from '../../src/manifest/recipients.js'
import type {LoadResult} from '../../src/manifest/types.js'

/** An in-memory file system the loader accepts, from absolute paths and their contents. */
export function memfs(files: Record<string, string>) {
  return createFsFromVolume(Volume.fromJSON(files))
}

/** Loads `paths` from an in-memory file system with the working directory `/w`. */
export function loadFromMemory(files: Record<string, string>, paths: string[]): Promise<LoadResult> {
  return loadManifests(paths, {fs: memfs(files), cwd: '/w'})
}

/** The bytes as a file stream would deliver them, in chunks of `size`. */
export async function* inChunks(bytes: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

/** A recipient collector and the problem scope of its send, feeding one sink that keeps 50 problems. */
export function sourceTarget(): {collector: RecipientCollector; problems: ScopedProblems; sink: ProblemSink} {
  const sink = new ProblemSink(50)
  const problems = new ScopedProblems(sink)
  return {collector: new RecipientCollector(problems), problems, sink}
}

/** The first lines of an mcsend.yaml whose default environment is dev; the environments follow. */
export const PROJECT_FILE_HEAD: readonly string[] = [
  '# yaml-language-server: $schema=./node_modules/mcsend/schemas/project.schema.json',
  'apiVersion: mcsend/v1',
  'kind: Project',
  'defaultEnvironment: dev',
  'environments:',
]
