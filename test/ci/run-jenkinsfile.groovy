// Runs a declarative Jenkinsfile outside Jenkins, for tests: the file itself, evaluated by Groovy,
// with the pipeline steps it uses played by small stand-ins. `sh` runs for real (sh -xe, like
// Jenkins) in the current workspace; `checkout scm` clones the source repository, and every
// `node` block gets a fresh workspace, like a separate agent with no shared disk; `parallel` runs
// its branches on threads. Each step is appended to a journal (one JSON object per line) that the
// test reads. Not a Jenkins: only the steps and directives bake's Jenkinsfile uses are here, and
// an unknown one fails the run, so the Jenkinsfile cannot silently use something this never ran.
//
// Usage: groovy run-jenkinsfile.groovy JENKINSFILE SOURCE_REPO WORK_DIR JOURNAL [PARAM=VALUE ...]
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import java.nio.file.FileSystems
import java.nio.file.Files
import java.nio.file.Path
import org.codehaus.groovy.control.CompilerConfiguration

// Fields and helpers are not private: the Jenkinsfile compiles to a subclass, and Groovy's closures
// do not see a superclass's private members.
abstract class PipelineScript extends Script {
  File sourceRepo
  File workRoot
  File journal
  Map<String, String> baseEnv = [:]
  Map<String, Object> givenParams = [:]

  // Script sends property writes to its binding: the runner sets these through a method.
  void configure(File sourceRepo, File workRoot, File journal, Map<String, String> baseEnv, Map<String, Object> givenParams) {
    this.sourceRepo = sourceRepo
    this.workRoot = workRoot
    this.journal = journal
    this.baseEnv = baseEnv
    this.givenParams = givenParams
  }

  Map<String, Object> paramValues = [:]
  Map<String, String> pipelineEnv = [:]
  Closure stagesBody
  Closure parametersBody
  Closure environmentBody
  int agents = 0
  // Per thread, inherited by parallel branches: where we are and what we are reading.
  final InheritableThreadLocal<File> workspace = new InheritableThreadLocal<>()
  final InheritableThreadLocal<Map<String, String>> envOverlay = new InheritableThreadLocal<>()
  final InheritableThreadLocal<String> mode = new InheritableThreadLocal<>()
  final InheritableThreadLocal<Map> stageSpec = new InheritableThreadLocal<>()

  synchronized void note(Map event) {
    journal << JsonOutput.toJson(event) << '\n'
  }

  Object within(String m, Closure body) {
    def before = mode.get()
    mode.set(m)
    try { return body.call() } finally { mode.set(before) }
  }

  void expectMode(String step, List<String> allowed) {
    if (!(mode.get() in allowed)) throw new IllegalStateException("${step} is not allowed here (in ${mode.get()})")
  }

  // ---- declarative structure ----
  def pipeline(Closure body) {
    within('pipeline', body)
    if (parametersBody) within('parameters', parametersBody)
    paramValues.putAll(givenParams)
    if (environmentBody) within('environment', environmentBody)
    workspace.set(new File(workRoot, 'workspace'))
    envOverlay.set([:])
    checkoutInto(workspace.get())
    note(event: 'start', params: paramValues)
    if (stagesBody) within('stages', stagesBody)
    note(event: 'result', status: 'SUCCESS')
  }
  def agent(Closure body) { expectMode('agent', ['pipeline', 'stage']); within('agent', body) }
  def label(String name) { expectMode('label', ['agent']); note(event: 'agent', label: name) }
  def options(Closure body) { expectMode('options', ['pipeline']); within('options', body) }
  def timestamps() { expectMode('timestamps', ['options']) }
  def timeout(Map args) { expectMode('timeout', ['options']) }
  def parameters(Closure body) { expectMode('parameters', ['pipeline']); parametersBody = body }
  def string(Map args) { expectMode('string', ['parameters']); paramValues[args.name] = args.defaultValue ?: '' }
  def booleanParam(Map args) { expectMode('booleanParam', ['parameters']); paramValues[args.name] = args.defaultValue as boolean }
  def environment(Closure body) { expectMode('environment', ['pipeline']); environmentBody = body }
  def stages(Closure body) { expectMode('stages', ['pipeline']); stagesBody = body }

  /** In `stages`: a declarative stage (when + steps). In steps: a scripted stage, run at once. */
  def stage(String name, Closure body) {
    if (mode.get() == 'stages') {
      def spec = [:]
      stageSpec.set(spec)
      within('stage', body)
      if (spec.when && !within('when', spec.when)) {
        note(event: 'stage', name: name, skipped: true)
        return
      }
      note(event: 'stage', name: name)
      if (!spec.steps) throw new IllegalStateException("stage ${name} has no steps")
      within('steps', spec.steps)
    } else {
      expectMode('stage', ['steps'])
      note(event: 'stage', name: name)
      within('steps', body)
    }
  }
  def steps(Closure body) { expectMode('steps', ['stage']); stageSpec.get().steps = body }
  def when(Closure body) { expectMode('when', ['stage']); stageSpec.get().when = body }
  def expression(Closure body) { expectMode('expression', ['when', 'anyOf']); return condition(body.call() as boolean) }
  // Security freshness (issue 24): the nightly timer, and a stage that runs on it or on a parameter.
  final InheritableThreadLocal<List<Boolean>> anyOfConditions = new InheritableThreadLocal<>()
  boolean condition(boolean value) { anyOfConditions.get()?.add(value); value }
  def anyOf(Closure body) {
    expectMode('anyOf', ['when'])
    def found = []
    anyOfConditions.set(found)
    try { within('anyOf', body) } finally { anyOfConditions.set(null) }
    return found.any()
  }
  /** The build's cause, as the test gives it (RUN_JENKINSFILE_CAUSE=TimerTrigger for the nightly run). */
  def triggeredBy(String cause) {
    expectMode('triggeredBy', ['when', 'anyOf'])
    return condition(cause == (System.getenv('RUN_JENKINSFILE_CAUSE') ?: 'UserIdCause'))
  }
  def triggers(Closure body) { expectMode('triggers', ['pipeline']); within('triggers', body) }
  def cron(String spec) { expectMode('cron', ['triggers']); note(event: 'cron', spec: spec) }
  def script(Closure body) { expectMode('script', ['steps']); body.call() }

  // `CI = 'true'` inside environment {}: Jenkins makes it an environment variable.
  void setProperty(String name, Object value) {
    if (mode.get() == 'environment') pipelineEnv[name] = value.toString()
    else super.setProperty(name, value)
  }
  def getParams() { paramValues }
  def getScm() { 'scm' }

  // ---- steps ----
  Map<String, String> currentEnv() {
    def env = new LinkedHashMap<String, String>(baseEnv)
    paramValues.each { k, v -> env[k] = v.toString() }
    env.putAll(pipelineEnv)
    env.putAll(envOverlay.get() ?: [:])
    env
  }

  String relative(File file) {
    workRoot.toPath().relativize(file.toPath()).toString()
  }

  def sh(String script) {
    expectMode('sh', ['steps'])
    def dir = workspace.get()
    def builder = new ProcessBuilder('sh', '-xe', '-c', script).directory(dir).redirectErrorStream(true)
    builder.environment().clear()
    builder.environment().putAll(currentEnv())
    def log = new File(workRoot, "logs/${Thread.currentThread().name.replaceAll('[^A-Za-z0-9._-]', '_')}.log")
    log.parentFile.mkdirs()
    log << "\$ ${script}\n"
    def started = System.currentTimeMillis()
    def process = builder.start()
    process.inputStream.eachLine { line -> synchronized (this) { log << line << '\n' } }
    def exit = process.waitFor()
    note(event: 'sh', script: script, workspace: relative(dir), exit: exit, ms: System.currentTimeMillis() - started)
    if (exit != 0) throw new RuntimeException("script returned exit code ${exit}: ${script.readLines().find { it.trim() }?.trim()} (log: ${log})")
  }

  // Jenkins' `input`: a person approves (or aborts). Here JENKINS_INPUT_SUBMITTER is who approves;
  // unset, the input is aborted, as a person pressing Abort. Returns the submitter, as
  // `submitterParameter` makes Jenkins do.
  def input(Map args) {
    expectMode('input', ['steps'])
    def submitter = baseEnv.JENKINS_INPUT_SUBMITTER
    note(event: 'input', text: args.message?.toString(), name: submitter ?: '')
    if (!submitter) throw new IllegalStateException("input aborted: ${args.message}")
    return args.submitterParameter ? submitter : null
  }
  def readFile(Map args) { expectMode('readFile', ['steps']); new File(workspace.get(), args.file as String).text }
  def echo(Object message) { expectMode('echo', ['steps']); note(event: 'echo', text: message.toString()) }

  List<String> matching(String pattern) {
    def root = workspace.get().toPath()
    // Ant's `**/` (Jenkins' patterns) also matches no folder at all: `reports/**/*.xml` takes reports/web.xml.
    def patterns = pattern.split(',')*.trim().collectMany { it.contains('**/') ? [it, it.replace('**/', '')] : [it] }
    def matchers = patterns.collect { FileSystems.default.getPathMatcher("glob:${it}") }
    def found = []
    def stream = Files.walk(root)
    try {
      for (Path p : stream.iterator()) {
        def rel = root.relativize(p)
        if (Files.isRegularFile(p) && matchers.any { it.matches(rel) }) found << rel.toString()
      }
    } finally {
      stream.close()
    }
    found.sort()
  }

  def archiveArtifacts(Map args) {
    expectMode('archiveArtifacts', ['steps'])
    def files = matching(args.artifacts)
    if (!files && !args.allowEmptyArchive) throw new RuntimeException("No artifacts found that match the file pattern \"${args.artifacts}\"")
    note(event: 'archive', pattern: args.artifacts, files: files, workspace: relative(workspace.get()))
  }

  def junit(Map args) {
    expectMode('junit', ['steps'])
    def files = matching(args.testResults)
    if (!files && !args.allowEmptyResults) throw new RuntimeException("No test report files were found: ${args.testResults}")
    def cases = []
    files.each { f ->
      def xml = new XmlSlurper().parse(new File(workspace.get(), f))
      xml.'**'.findAll { it.name() == 'testcase' }.each { c -> cases << [name: c.@name.toString(), failed: !c.failure.isEmpty() || !c.error.isEmpty()] }
    }
    note(event: 'junit', files: files, cases: cases, workspace: relative(workspace.get()))
  }

  def publishHTML(Map args) {
    expectMode('publishHTML', ['steps'])
    def target = args.target
    def file = new File(new File(workspace.get(), target.reportDir as String), target.reportFiles as String)
    if (!file.isFile() && !target.allowMissing) throw new RuntimeException("ERROR: Specified HTML directory or file ${target.reportDir}/${target.reportFiles} does not exist.")
    note(event: 'publishHTML', name: target.reportName as String, file: file.isFile() ? relative(file) : null, size: file.isFile() ? file.length() : 0, workspace: relative(workspace.get()))
  }

  def readJSON(Map args) {
    expectMode('readJSON', ['steps'])
    new JsonSlurper().parse(new File(workspace.get(), args.file))
  }

  def node(String label, Closure body) {
    expectMode('node', ['steps'])
    def before = workspace.get()
    def dir
    synchronized (this) { dir = new File(workRoot, "agents/${++agents}-${label}") }
    dir.mkdirs()
    workspace.set(dir)
    note(event: 'node', label: label, workspace: relative(dir))
    try { body.call() } finally { workspace.set(before) }
  }

  def checkout(Object what) {
    expectMode('checkout', ['steps'])
    checkoutInto(workspace.get())
  }

  void checkoutInto(File dir) {
    dir.mkdirs()
    def commit = baseEnv.GIT_COMMIT
    [['git', 'clone', '-q', sourceRepo.path, dir.path], ['git', '-C', dir.path, 'checkout', '-q', commit]].each { command ->
      def process = new ProcessBuilder(command).redirectErrorStream(true).start()
      def output = process.inputStream.text
      if (process.waitFor() != 0) throw new RuntimeException("${command.join(' ')}: ${output}")
    }
    note(event: 'checkout', workspace: relative(dir), commit: commit)
  }

  def withEnv(List<Object> pairs, Closure body) {
    expectMode('withEnv', ['steps'])
    def before = envOverlay.get()
    def overlay = new LinkedHashMap<String, String>(before ?: [:])
    pairs.each { pair -> def (k, v) = pair.toString().split('=', 2); overlay[k] = v }
    envOverlay.set(overlay)
    try { body.call() } finally { envOverlay.set(before) }
  }

  /** Jenkins polls the condition, backing off from initialRecurrencePeriod ms; here every 100 ms. */
  def waitUntil(Map args = [:], Closure condition) {
    expectMode('waitUntil', ['steps'])
    def started = System.currentTimeMillis()
    while (!condition.call()) {
      if (System.currentTimeMillis() - started > 600_000) throw new RuntimeException('waitUntil: still false after 10 minutes')
      Thread.sleep(100)
    }
    note(event: 'waited', ms: System.currentTimeMillis() - started)
  }

  def parallel(Map<String, Closure> branches) {
    expectMode('parallel', ['steps'])
    note(event: 'parallel', branches: branches.keySet() as List)
    def failures = Collections.synchronizedMap([:])
    def threads = branches.collect { name, body ->
      Thread.start("branch-${name}") {
        try { body.call() } catch (Throwable e) { failures[name] = e.message }
      }
    }
    threads*.join()
    if (failures) throw new RuntimeException("parallel branches failed: ${failures}")
  }

  def methodMissing(String name, Object args) {
    throw new MissingMethodException(name, PipelineScript, args as Object[])
  }
}

if (args.length < 4) {
  System.err.println('usage: run-jenkinsfile.groovy JENKINSFILE SOURCE_REPO WORK_DIR JOURNAL [PARAM=VALUE ...]')
  System.exit(2)
}
def config = new CompilerConfiguration()
config.scriptBaseClass = PipelineScript.name
def shell = new GroovyShell(this.class.classLoader, new Binding(), config)
PipelineScript pipelineScript = shell.parse(new File(args[0]).text, 'Jenkinsfile') as PipelineScript
def baseEnv = new LinkedHashMap<String, String>(System.getenv())
// Jenkins' git plugin sets GIT_COMMIT: the commit every checkout of this build uses.
if (!baseEnv.GIT_COMMIT) baseEnv.GIT_COMMIT = ['git', '-C', args[1], 'rev-parse', 'HEAD'].execute().text.trim()
def givenParams = [:]
args.drop(4).each { pair -> def (k, v) = pair.split('=', 2); givenParams[k] = v == 'true' ? true : v == 'false' ? false : v }
pipelineScript.configure(new File(args[1]), new File(args[2]), new File(args[3]), baseEnv, givenParams)
try {
  pipelineScript.run()
} catch (Throwable e) {
  pipelineScript.note(event: 'result', status: 'FAILURE', error: e.toString())
  System.err.println("run-jenkinsfile: FAILURE: ${e}")
  System.exit(1)
}
