"""The money of a retention campaign: what keeping a customer is worth and what contacting one costs
(:mod:`~churnctl.value.campaign`), profit over the share contacted, the expected maximum profit and
the lift by decile (:mod:`~churnctl.value.profit`, with the ``empulse`` package), thresholds chosen by
value, share or budget (:mod:`~churnctl.value.policy`), the list of customers to contact, kept in
bounded memory (:mod:`~churnctl.value.ranking`), and the profit of a batch estimated without labels
(:mod:`~churnctl.value.estimate`). Nothing here reads the registry or prints."""
