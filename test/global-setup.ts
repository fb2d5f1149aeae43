// Printed once at the head of every test run, so a log shows which Node really ran the tests
// (the repository pins Node 24 through the `node` devDependency; the machine may have another).
export default function setup(): void {
  const where =
    process.env.HLB_NETNS === 'private' ? 'a private network namespace' : 'the host network namespace'
  const why = process.env.HLB_NETNS_REASON ? ` (${process.env.HLB_NETNS_REASON})` : ''
  console.log(
    `headless-lb tests: Node ${process.version} on ${process.platform}/${process.arch}, in ${where}${why}`,
  )
}
