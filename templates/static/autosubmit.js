// response_mode=form_post: submit the reply form to the application.
document.getElementById("hiddenform").submit();
