"""OpenAPI 3.1 documents of both services, and the interactive page that shows them.

`predict_api` builds the predict API's document from the served model's input schema, so that it
says what the validator really accepts; `model_server` builds the model server's, with the bearer
token on its write routes; `page` serves either as a Swagger UI page whose assets come from the
installed flask-swagger-ui package (nothing from the internet, nothing copied into the repository).
"""
