import { Block, ReviewRequested } from "@weft/engine"
import { Schema } from "effect"

/**
 * Human in the loop: pauses the run until a person reviews `data` (R16). The first time it runs it asks for
 * a review, with `{ name, data, editable }` as the payload, and its execution waits in REVIEW. Once the
 * reviewer decides (`Executor.review`), it runs again and emits `approved_data` or `rejected_data` (the
 * reviewer's edited data when `editable`, the original otherwise), then `review_message` (the reviewer's
 * message, or a default one). AutoGPT: HumanInTheLoopBlock.
 *
 * Like AutoGPT, it approves at once, with the message "Auto-approved (safe mode disabled)", when the run's
 * safe mode is explicitly off (`safeMode: false`). A run that does not set its safe mode asks for a review.
 */
export default Block.make({
  id: "weft/agent/human-in-the-loop",
  title: "Human in the loop",
  description: "Pauses the run until a person approves, edits or rejects the data, then passes it on.",
  categories: ["agent"],
  aliases: ["8b2a7b3c-6e9d-4a5f-8c1b-2e3f4a5b6c7d"],
  input: Schema.Struct({
    data: Schema.Unknown.annotate({ title: "Data", description: "The data the person reviews." }),
    name: Schema.String.annotate({
      title: "Name",
      description: "What the data is, as the reviewer sees it, e.g. 'Draft email'.",
    }),
    editable: Schema.optional(Schema.Boolean).annotate({
      title: "Editable",
      description: "Whether the reviewer may change the data; true by default.",
      advanced: true,
    }),
  }),
  output: Schema.Struct({
    approved_data: Schema.Unknown.annotate({
      title: "Approved data",
      description: "The data, possibly edited, once approved.",
    }),
    rejected_data: Schema.Unknown.annotate({
      title: "Rejected data",
      description: "The data, possibly edited, once rejected.",
    }),
    review_message: Schema.String.annotate({
      title: "Review message",
      description: "The reviewer's message.",
    }),
  }),
  examples: [
    {
      description: "run on its own, with no reviewer, the block asks for a review",
      input: { data: { name: "John Doe", age: 30 }, name: "User profile data" },
      output: [["error", "review requested"]],
    },
  ],
  run: ({ data, name, editable }, ctx) => {
    if (ctx.safeMode === false)
      return { approved_data: data, review_message: "Auto-approved (safe mode disabled)" }
    const decision = ctx.review
    const canEdit = editable ?? true
    if (decision === undefined) throw new ReviewRequested({ payload: { name, data, editable: canEdit } })
    const reviewed = canEdit && decision.data !== undefined ? decision.data : data
    const message =
      decision.message !== undefined && decision.message !== ""
        ? decision.message
        : decision.approved
          ? "Execution approved by reviewer"
          : "Execution rejected by reviewer"
    return decision.approved
      ? { approved_data: reviewed, review_message: message }
      : { rejected_data: reviewed, review_message: message }
  },
})
