"""Instruments on an answer, reusable by the chat and the Lab's panes.

- `heatmap.LogprobsView`: the answer's tokens tinted by probability, alternatives on hover, the
  mean log-probability and perplexity.
- `candidates.CandidateTabs`: the candidates of one request (n > 1, or fanned out) as tabs.
- `verdict.VerdictView`: a reply checked against the response format (a pass badge, or the
  problems with their JSON pointers).
- `response_format.ResponseFormatEditor`: none / json_object / json_schema (name, strict), the
  schema checked as it is typed.
- `controls.InstrumentsSection`: the parameter panel's part that asks for them.
- `answer.AnswerInstruments`: all of the above on one answer widget, painted from a MessageView.
"""
