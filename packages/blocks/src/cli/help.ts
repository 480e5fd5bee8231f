/**
 * The help texts of the `weft` commands, apart from the commands so that `--help` loads no blocks.
 *
 * @since 0.1.0
 */

export const HELP = `Usage: weft <command> [options]

Commands:
  run <file>        Run a Weft graph or an AutoGPT export with the core blocks
  validate <file>   Check a graph against the core blocks
  import <file>     Convert an AutoGPT export into a Weft graph, with a report
  export <file>     Write a graph in the AutoGPT export format (--format autogpt)
  blocks            List the core blocks and their pins

Run "weft <command> --help" for a command's options.`

export const RUN_HELP = `Usage: weft run <file> [--input name=value]… [--json] [--deadline ms] [--allow host]…

Runs a Weft graph file or an AutoGPT export (detected by its shape) with the core blocks, in this
process. Sub-graphs in the file are available to agent-executor nodes.

Options:
  -i, --input name=value  A value for the input named "name". A value that parses as JSON is taken as
                          JSON (42, true, {"a":1}), else as a string; an input typed as a string always
                          gets the text as written. Repeat for more inputs.
      --json              Print no progress; the last line of stdout is
                          {"status": …, "outputs": {name: [values]}} (with "error" when the run
                          failed, or could not start: then the status is FAILED).
      --deadline ms       Stop the run (FAILED) after this many milliseconds.
      --allow host        Let HTTP and AI blocks reach this private host, address or CIDR range
                          (e.g. 127.0.0.1 for a local model server). Repeatable.
  -h, --help              Show this help.

Credentials: AutoGPT exports carry none, so an empty credential field of provider P is filled with the
key in the environment variable P_API_KEY (e.g. OPENAI_API_KEY; OPENAI_BASE_URL picks the endpoint).

Live progress shows each node's status changes and outputs, one line each. Ctrl-C cancels the run
(exit 130). Exit 0 when the run COMPLETED, 1 otherwise, 2 for a bad file or bad arguments.`

export const VALIDATE_HELP = `Usage: weft validate <file>

Validates a Weft graph file or an AutoGPT export (and its sub-graphs) against the core blocks, as
weft run would run it (empty credential fields filled from the environment).
Prints "valid" and exits 0, or prints the problems as {nodeId: {field: message}} and exits 1.
Exit 2 for a file that is missing, not JSON, or not a graph.`

export const IMPORT_HELP = `Usage: weft import <autogpt.json> [-o out.json] [--json] [--block-names block-ids.json]

Converts an AutoGPT export into a Weft graph file (the graph, with its sub-graphs in "subGraphs") and
prints a report: blocks the core set lacks, how agent-executor nodes were matched to sub-graphs, and
validation problems.

Options:
  -o, --out file          Write the Weft graph here (default: stdout, with the report on stderr).
      --json              Print the report as JSON.
      --block-names file  AutoGPT block names by id (block-ids.json), to name missing blocks; by default
                          ../shared/corpus/autogpt/block-ids.json next to the repository, when present.
  -h, --help              Show this help.`

export const EXPORT_HELP = `Usage: weft export <file> --format autogpt [-o out.json]

Writes a Weft graph file (or an AutoGPT export, normalised) in the AutoGPT export format. Blocks with an
AutoGPT alias are written with their AutoGPT block id; sub-graphs go into "sub_graphs".

Options:
      --format autogpt  The format to write (only autogpt for now).
  -o, --out file        Write here (default: stdout).
  -h, --help            Show this help.`

export const BLOCKS_HELP = `Usage: weft blocks [--json]

Lists the core blocks with their input pins (type, required or optional) and output pins.

Options:
  --json      Print a JSON array of {id, title, description, categories, aliases, kind, inputs, outputs}.
  -h, --help  Show this help.`
