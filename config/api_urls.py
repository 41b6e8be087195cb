"""The REST API under /api/: each app's endpoints, in one "api" namespace.

Composed here rather than in one app, because labeling may not import training's services
(see .importlinter): each app keeps its own API beside its own services.
"""

from labeling.api.urls import urlpatterns as labeling_api
from serving.urls import urlpatterns as serving_api
from training.api.urls import urlpatterns as training_api

app_name = "api"
urlpatterns = [*labeling_api, *training_api, *serving_api]
