/**
 * The commit and run of a GitHub Actions job, from its documented default variables (GITHUB_SHA, GITHUB_SERVER_URL,
 * GITHUB_REPOSITORY, GITHUB_RUN_ID), for the Markdown a reviewer reads; undefined outside Actions.
 * https://docs.github.com/en/actions/reference/variables-reference#default-environment-variables
 */
export function ciContextFromEnv(env: NodeJS.ProcessEnv): {commit?: string; runUrl?: string} | undefined {
  const commit = /^[0-9a-f]{7,64}$/i.test(env.GITHUB_SHA ?? '') ? env.GITHUB_SHA : undefined
  const server = env.GITHUB_SERVER_URL
  const repo = env.GITHUB_REPOSITORY
  const run = env.GITHUB_RUN_ID
  let runUrl: string | undefined
  if (server && repo && run && /^https:\/\/[A-Za-z0-9.-]+(?::\d+)?$/.test(server) && /^[\w.-]+\/[\w.-]+$/.test(repo) && /^\d+$/.test(run)) runUrl = `${server}/${repo}/actions/runs/${run}`
  return commit === undefined && runUrl === undefined ? undefined : {commit, runUrl}
}
