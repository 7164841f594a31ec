"""Breach prediction: the model each objective's backtest chose, kept on its `Objective`
node (`predictionModel`, and `predictionBacktest`: the evidence as JSON text), as
operational metadata an import neither compares nor erases (docs/service-levels.md,
"Breach prediction")."""

from hub.graph.cypher import Cypher, scope

# Each row: id, model, backtest. An objective gone (or out of scope) is skipped; the
# models of the ones written are returned, for the run's audit entry.
SET_PREDICTION_MODELS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (o:Objective {id: row.id})
    WHERE """
    + scope.objective_visible("o")
    + """
    SET o.predictionModel = row.model, o.predictionBacktest = row.backtest
    RETURN count(o) AS written, collect(row.model) AS models
    """
)

PREDICTION_MODELS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (o:Objective {id: id})
    WHERE o.predictionModel IS NOT NULL AND """
    + scope.objective_visible("o")
    + """
    RETURN o.id AS id, o.predictionModel AS model, o.predictionBacktest AS backtest
    """
)
