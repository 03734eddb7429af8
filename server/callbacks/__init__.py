"""The phone call-back channel (电话回访): worklists drawn by policy, the agent's calls and their
dispositions, results that become ``phone`` evaluations (docs/phone-callbacks.md)."""
